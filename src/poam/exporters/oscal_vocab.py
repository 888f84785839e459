"""OSCAL vocabularies poam writes: a CVSS vector's base metrics as facets (the names and values
of NIST's oscal_assessment-common metaschema, under FIRST's naming systems), and the vendors of
the tools poam reads (FedRAMP's `vendor-name` component prop)."""

from __future__ import annotations

CVSS_SYSTEMS = {"2": "http://www.first.org/cvss/v2.0", "3.0": "http://www.first.org/cvss/v3.0"}
CVSS31 = "http://www.first.org/cvss/v3.1"
# Base metrics of a CVSS vector as OSCAL facet names and values (oscal_assessment-common metaschema).
_V3 = {
    "AV": ("attack-vector", {"N": "network", "A": "adjacent", "L": "local", "P": "physical"}),
    "AC": ("access-complexity", {"L": "low", "H": "high"}),  # OSCAL's name for Attack Complexity
    "PR": ("privileges-required", {"N": "none", "L": "low", "H": "high"}),
    "UI": ("user-interaction", {"N": "none", "R": "required"}),
    "S": ("scope", {"U": "unchanged", "C": "changed"}),
    "C": ("confidentiality-impact", {"N": "none", "L": "low", "H": "high"}),
    "I": ("integrity-impact", {"N": "none", "L": "low", "H": "high"}),
    "A": ("availability-impact", {"N": "none", "L": "low", "H": "high"}),
}
_V2 = {
    "AV": ("access-vector", {"L": "local", "A": "adjacent-network", "N": "network"}),
    "AC": ("access-complexity", {"H": "high", "M": "medium", "L": "low"}),
    "Au": ("authentication", {"M": "multiple", "S": "single", "N": "none"}),
    "C": ("confidentiality-impact", {"N": "none", "P": "partial", "C": "complete"}),
    "I": ("integrity-impact", {"N": "none", "P": "partial", "C": "complete"}),
    "A": ("availability-impact", {"N": "none", "P": "partial", "C": "complete"}),
}
# Vendors of the tools poam reads (FedRAMP's `vendor-name` component prop).
VENDORS = {
    "Nessus": "Tenable",
    "Tenable.io": "Tenable",
    "Tenable WAS": "Tenable",
    "Qualys": "Qualys",
    "Qualys WAS": "Qualys",
    "OpenVAS": "Greenbone",
    "Burp Suite": "PortSwigger",
    "OWASP ZAP": "ZAP",
    "Amazon Inspector": "Amazon Web Services",
    "Microsoft Defender for Cloud": "Microsoft",
    "Microsoft Defender for Endpoint": "Microsoft",
    "Grype": "Anchore",
    "Trivy": "Aqua Security",
    "Snyk": "Snyk",
    "Wiz": "Wiz",
    "Semgrep": "Semgrep",
    "Prowler": "Prowler",
    "Nmap": "Nmap Project",
    "DISA STIG Viewer": "DISA",
}


def cvss_facets(vector: str | None, version2: bool = False) -> list[dict[str, str]]:
    """A CVSS vector's base metrics as OSCAL facets (empty for no vector or one not understood)."""
    if not vector:
        return []
    parts_ = vector.strip().split("/")
    if version2:
        system, table = CVSS_SYSTEMS["2"], _V2
    else:
        head = parts_[0] if parts_ and parts_[0].startswith("CVSS:") else "CVSS:3.1"
        system = CVSS_SYSTEMS.get(head.removeprefix("CVSS:"), CVSS31)
        table = _V3
    out = []
    for part in parts_:
        key, _sep, value = part.partition(":")
        if key in table and value in table[key][1]:
            out.append({"name": table[key][0], "system": system, "value": table[key][1][value]})
    return out
