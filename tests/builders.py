"""Small hand-written scan files for tests (the real ones are read from the corpus)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr


@dataclass
class Item:
    plugin: str
    port: int = 443
    severity: int = 2
    name: str | None = None
    protocol: str = "tcp"
    cvss3: float | None = None
    cvss2: float | None = None
    cves: tuple[str, ...] = ()
    output: str = "evidence"
    family: str = "General"
    description: str | None = None
    solution: str = "Apply the vendor patch."


@dataclass
class Host:
    name: str
    ip: str | None = None
    fqdn: str | None = None
    netbios: str | None = None
    mac: str | None = None
    start: dt.datetime | None = dt.datetime(2026, 1, 5, 10, 0, 0)
    items: list[Item] = field(default_factory=list)
    credentialed: bool | None = None


def nessus(hosts: list[Host], policy: str = "Test Policy") -> str:
    """A NessusClientData_v2 document."""
    out = io.StringIO()
    out.write('<?xml version="1.0" ?>\n<NessusClientData_v2>\n')
    out.write(f'<Policy><policyName>{escape(policy)}</policyName></Policy>\n<Report name="test">\n')
    for h in hosts:
        out.write(f"<ReportHost name={quoteattr(h.name)}><HostProperties>\n")
        props = {"host-ip": h.ip, "host-fqdn": h.fqdn, "netbios-name": h.netbios, "mac-address": h.mac}
        if h.credentialed is not None:
            props["Credentialed_Scan"] = "true" if h.credentialed else "false"
        if h.start:
            props["HOST_START"] = h.start.strftime("%a %b %d %H:%M:%S %Y")
            props["HOST_END"] = (h.start + dt.timedelta(minutes=30)).strftime("%a %b %d %H:%M:%S %Y")
        for k, v in props.items():
            if v:
                out.write(f"<tag name={quoteattr(k)}>{escape(v)}</tag>\n")
        out.write("</HostProperties>\n")
        for it in h.items:
            name = it.name or f"Plugin {it.plugin}"
            out.write(
                f'<ReportItem port="{it.port}" svc_name="www" protocol="{it.protocol}" '
                f'severity="{it.severity}" pluginID="{it.plugin}" pluginName={quoteattr(name)} '
                f"pluginFamily={quoteattr(it.family)}>\n"
            )
            out.write(f"<description>{escape(it.description or name + ' description')}</description>\n")
            out.write(f"<solution>{escape(it.solution)}</solution>\n<synopsis>syn</synopsis>\n")
            if it.cvss3 is not None:
                out.write(f"<cvss3_base_score>{it.cvss3}</cvss3_base_score>\n")
            if it.cvss2 is not None:
                out.write(f"<cvss_base_score>{it.cvss2}</cvss_base_score>\n")
            for cve in it.cves:
                out.write(f"<cve>{cve}</cve>\n")
            out.write(f"<plugin_output>{escape(it.output)}</plugin_output>\n</ReportItem>\n")
        out.write("</ReportHost>\n")
    out.write("</Report>\n</NessusClientData_v2>\n")
    return out.getvalue()


def write_nessus(path: Path, hosts: list[Host], **kw: str) -> Path:
    path.write_text(nessus(hosts, **kw), encoding="utf-8")
    return path


CSV_HEADER = [
    "detector",
    "weakness_id",
    "weakness_name",
    "severity",
    "asset",
    "port",
    "protocol",
    "detected",
    "description",
    "solution",
    "cve",
    "controls",
    "status",
]


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or CSV_HEADER
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        for row in rows:
            w.writerow({k: row.get(k, "") for k in header})
    return path
