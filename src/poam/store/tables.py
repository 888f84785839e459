"""Database tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy import String as _String
from sqlalchemy import Text as _Text
from sqlalchemy.types import TypeDecorator

_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: str) -> bool:
    """Whether text holds a lone surrogate (JSON's `\\ud800` escape without its pair), which no
    database can store as UTF-8."""
    return not value.isascii() and _SURROGATE.search(value) is not None


def _no_nul(value: Any) -> Any:
    """Scanner text may hold NUL characters, which PostgreSQL refuses: they are dropped; and lone
    surrogates, which UTF-8 cannot hold: each becomes U+FFFD (identifiers holding one are refused
    before they get here, descriptive text is warned about)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        if lone_surrogate(value):
            value = _SURROGATE.sub("\ufffd", value)
    return value


class Text(TypeDecorator[str]):
    """Text without NUL characters."""

    impl = _Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _no_nul(value)


class String(TypeDecorator[str]):
    """A bounded string without NUL characters."""

    impl = _String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _no_nul(value)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

systems = Table(
    "systems",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("org", String(200)),
    Column("impact", String(16), nullable=False),
    Column("policy", String(40), nullable=False),
    Column("id_prefix", String(20), nullable=False),
    Column("next_seq", Integer, nullable=False, default=1),
    Column("fedramp_id", String(100)),
    Column("point_of_contact", Text),
    Column("service_names", Text),
    Column("public_cidrs", Text, nullable=False, server_default=""),  # newline-separated
    Column("public_domains", Text, nullable=False, server_default=""),  # host name suffixes
    Column("fedramp_class", String(1)),  # b, c or d (fedramp-cr26)
    Column("fallback_policy", String(40)),  # bod-26-04: the day table for findings without a CVE
    Column("policy_table", Text),  # a custom day table, as the TOML file gave it
    Column("auto_approve", Boolean, nullable=False, server_default=false()),  # AO-approved automated RA process
    Column("cpo_uri", Text),  # fedramp-cr26: the Certification Package Overview's URI (VER reports)
    Column("created_at", DateTime, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_id", ForeignKey("systems.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("capacity_hours", Float, nullable=False),  # staff hours per week
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("system_id", "name", name="uq_teams_system_name"),
)

assets = Table(
    "assets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_id", ForeignKey("systems.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("identifier", String(500), nullable=False),
    Column("ip", String(64)),
    Column("fqdn", String(500)),
    Column("netbios", String(100)),
    Column("mac", Text),
    Column("name", String(500)),
    Column("os", String(500)),
    Column("account", String(200)),
    Column("region", String(100)),
    Column("in_inventory", Boolean, nullable=False, default=False),
    Column("public", Boolean),  # the inventory's public-facing column
    Column("exposure", String(10)),  # public, internal, unknown: as a person set it (None: not set)
    Column("criticality", String(10)),  # low, moderate, high
    Column("asset_type", String(100)),
    Column("owner", String(200)),
    Column("inventory_row", Text),
    Column("first_seen", DateTime),
    Column("last_seen", DateTime),
    Index("ix_assets_system_ip", "system_id", "ip"),
    Index("ix_assets_system_fqdn", "system_id", "fqdn"),
    Index("ix_assets_system_netbios", "system_id", "netbios"),
    Index("ix_assets_system_name", "system_id", "name"),
)

scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_id", ForeignKey("systems.id", ondelete="CASCADE"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("scan_date", DateTime),  # the --scan-date given, for files without times of their own
    Column("import_key", String(100), nullable=False),  # sha256, with --scan-date and --asset when given
    Column("filename", String(1000), nullable=False),
    Column("format", String(40), nullable=False),
    Column("closes", Boolean, nullable=False, default=False),
    Column("tool", String(200)),
    Column("tool_version", String(100)),
    Column("name", String(500)),
    Column("started_at", DateTime),
    Column("ended_at", DateTime),
    Column("skipped_families", Text, nullable=False, default=""),
    Column("partial_checks", Text, nullable=False, default=""),
    Column("partial_paths", Text, nullable=False, default="", server_default=""),
    Column("imported_at", DateTime, nullable=False),
    Column("assets_covered", Integer, nullable=False, default=0),
    Column("results", Integer, nullable=False, default=0),
    Column("informational", Integer, nullable=False, default=0),
    Column("new_findings", Integer, nullable=False, default=0),
    Column("fixed_findings", Integer, nullable=False, default=0),
    Column("reopened_findings", Integer, nullable=False, default=0),
    Column("items_opened", Integer, nullable=False, default=0),
    Column("items_closed", Integer, nullable=False, default=0),
    UniqueConstraint("system_id", "import_key", name="uq_scans_system_import_key"),
)

scan_assets = Table(
    "scan_assets",
    metadata,
    Column("scan_id", ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("tool", String(200), primary_key=True),
    Column("seen_at", DateTime, nullable=False),
    Column("authenticated", Boolean),
    Column("checks", String(20), nullable=False, default="all"),
    Index("ix_scan_assets_asset", "asset_id"),
)

weaknesses = Table(
    "weaknesses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_id", ForeignKey("systems.id", ondelete="CASCADE"), nullable=False),
    Column("tool", String(200), nullable=False),
    Column("vuln_id", String(200), nullable=False),
    Column("name", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("family", String(200)),
    Column("synopsis", Text),
    Column("description", Text),
    Column("solution", Text),
    Column("see_also", Text),
    Column("cvss2_score", Float),
    Column("cvss2_vector", String(200)),
    Column("cvss3_score", Float),
    Column("cvss3_vector", String(200)),
    Column("cvss4_score", Float),
    Column("cvss4_vector", String(300)),
    Column("cves", Text, nullable=False, default=""),
    Column("cwes", Text, nullable=False, default=""),
    Column("iavas", Text, nullable=False, default=""),
    Column("controls", Text, nullable=False, default=""),
    Column("ccis", Text, nullable=False, default=""),
    Column("is_config", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("system_id", "tool", "vuln_id", name="uq_weaknesses_system_tool_vuln"),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_id", ForeignKey("systems.id", ondelete="CASCADE"), nullable=False),
    Column("poam_id", String(100), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("weakness_id", ForeignKey("weaknesses.id")),
    Column("tool", String(200), nullable=False),
    Column("vuln_id", String(200), nullable=False),
    Column("is_config", Boolean, nullable=False, default=False),
    Column("controls", Text, nullable=False, default=""),
    Column("weakness_name", Text, nullable=False),
    Column("weakness_description", Text, nullable=False, default=""),
    Column("detector_source", String(200), nullable=False),
    Column("point_of_contact", Text),
    Column("resources_required", Text),
    Column("remediation_plan", Text),
    Column("recommendation", Text),
    Column("detection_date", Date, nullable=False),
    Column("scheduled_completion_date", Date, nullable=False),
    Column("status_date", Date, nullable=False),
    Column("vendor_dependency", String(8), nullable=False, default="No"),
    Column("last_vendor_checkin", Date),
    Column("vendor_product", Text),
    Column("original_risk", String(16), nullable=False),
    Column("adjusted_risk", String(16)),
    Column("risk_adjustment", String(8), nullable=False, default="No"),
    Column("false_positive", String(8), nullable=False, default="No"),
    Column("operational_requirement", String(8), nullable=False, default="No"),
    Column("deviation_rationale", Text),
    Column("supporting_documents", Text),
    Column("comments", Text),
    Column("auto_approve", String(8), nullable=False, default="No"),
    Column("kev", Boolean, nullable=False, default=False),
    Column("kev_due_date", Date),
    Column("cves", Text, nullable=False, default=""),
    Column("service_names", Text),
    Column("closed_at", Date),
    Column("closed_scan_id", ForeignKey("scans.id", ondelete="SET NULL")),
    Column("previous_item_id", ForeignKey("items.id", ondelete="SET NULL")),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("pain", Integer),  # the current CR26 evaluation (None: not evaluated)
    Column("irv", Boolean),
    Column("lev", Boolean),
    Column("evaluated_at", DateTime),  # the first evaluation
    Column("disposition", String(24)),  # false-positive, fully-mitigated, partially-mitigated, remediated
    Column("disposition_rationale", Text),
    Column("deadlines", Text, nullable=False, server_default="[]"),  # JSON: the rule set's deadlines
    Column("flags", Text, nullable=False, server_default="[]"),  # JSON: incident, forensic triage, ...
    Column("next_due", DateTime),  # the nearest deadline not met (UTC)
    Column("forensic_triage", Boolean, nullable=False, server_default=false()),
    Column("rules_stale", Boolean, nullable=False, server_default=true()),  # deadlines to recompute
    Column("team_id", ForeignKey("teams.id", ondelete="SET NULL")),
    Column("hours", Float),  # staff hours the fix needs
    Column("cost", Float),  # money the fix needs beyond current resources (whole currency units)
    Column("technology", Text),  # technology the fix needs (a tool, a licence, hardware)
    Column("poc_set", Boolean, nullable=False, server_default=false()),  # a person set the point of contact
    Column("ready", Boolean, nullable=False, server_default=false()),  # marked ready for the monthly submission
    Column("reported_at", Date),  # first reported in a monthly submission: milestones are permanent from then
    Column("vendor_release_date", Date),  # the vendor's fix release date (restarts the clock where rules say so)
    Column("origin", String(16), nullable=False, server_default="scan"),  # scan, poam-xlsx, oscal
    Column("asset_text", Text),  # an imported POA&M's Asset Identifier cell, as written there
    Column("extra", Text, nullable=False, server_default="{}"),  # JSON: imported details with no column
    UniqueConstraint("system_id", "poam_id", name="uq_items_system_poam_id"),
    Index("ix_items_lookup", "system_id", "tool", "vuln_id", "status"),
)

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_id", ForeignKey("systems.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("weakness_id", ForeignKey("weaknesses.id"), nullable=False),
    Column("asset_id", ForeignKey("assets.id"), nullable=False),
    Column("ident", BigInteger, nullable=False),
    Column("tool", String(200), nullable=False),
    Column("port", Integer),
    Column("protocol", String(20)),
    Column("path", Text),
    Column("service", String(100)),
    Column("evidence", Text),
    Column("status", String(10), nullable=False),
    Column("is_config", Boolean, nullable=False, default=False),
    Column("authenticated", Boolean, nullable=False, default=False),
    Column("first_seen", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("fixed_at", DateTime),
    Column("first_scan_id", ForeignKey("scans.id", ondelete="SET NULL")),
    Column("last_scan_id", ForeignKey("scans.id", ondelete="SET NULL")),
    Column("fixed_scan_id", ForeignKey("scans.id", ondelete="SET NULL")),
    Index("ix_findings_ident", "ident"),
    Index("ix_findings_asset", "asset_id"),
    Index("ix_findings_item", "item_id"),
)

sightings = Table(
    "sightings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_id", ForeignKey("systems.id", ondelete="CASCADE"), nullable=False),
    Column("scan_id", ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
    Column("weakness_id", ForeignKey("weaknesses.id"), nullable=False),
    Column("asset_id", ForeignKey("assets.id"), nullable=False),
    Column("tool", String(200), nullable=False),
    Column("port", Integer),
    Column("protocol", String(20)),
    Column("path", Text),
    Column("status", String(10), nullable=False),  # open, set_aside or fixed, as the file gave it
    Column("observed_at", DateTime, nullable=False),
    Column("since", DateTime),  # the tool's own detection time, when the file gave one
    Index("ix_sightings_weakness", "weakness_id"),
    Index("ix_sightings_scan_tool", "scan_id", "tool"),
    Index("ix_sightings_system_tool_time", "system_id", "tool", "observed_at"),
)
"""Every finding as every scan reported it: the history an older scan imported late is replayed
from (see `services.history`)."""

milestones = Table(
    "milestones",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("status", String(10), nullable=False, server_default="open"),  # open, complete
    Column("completed_on", Date),
    Column("placeholder", Boolean, nullable=False, server_default=false()),  # the import's automatic first one
    Column("actor", String(200)),  # who added it (None: poam itself)
    Column("updated_at", DateTime),
    UniqueConstraint("item_id", "number", name="uq_milestones_item_number"),
)

milestone_changes = Table(
    "milestone_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("change_date", Date, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("actor", String(200)),  # who made the change (None: poam itself, e.g. closing on a scan)
    Index("ix_milestone_changes_item", "item_id"),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime, nullable=False),  # when the evaluation was completed (UTC)
    Column("kind", String(12), nullable=False),  # evaluation, reduction, raise, update
    Column("irv", Boolean, nullable=False),
    Column("lev", Boolean, nullable=False),
    Column("pain", Integer, nullable=False),
    Column("rationale", Text, nullable=False),
    Column("reason", Text),  # why a rating was raised
    Column("evaluator", String(200), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Index("ix_evaluations_item", "item_id"),
)
"""CR26 evaluations of an item, in time order: the first, then each reduction or change (PAIN history)."""

vendor_checkins = Table(
    "vendor_checkins",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("checkin_date", Date, nullable=False),
    Column("note", Text),
    Column("product", Text),
    Column("actor", String(200), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Index("ix_vendor_checkins_item", "item_id"),
)

deviations = Table(
    "deviations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(24), nullable=False),  # false-positive, risk-adjustment, operational-requirement, accepted
    Column("status", String(10), nullable=False),  # pending, approved, rejected
    Column("rationale", Text, nullable=False),
    Column("requested_risk", String(16)),
    Column("requester", String(200), nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("approver", String(200)),
    Column("decided_at", DateTime),
    Column("decision_note", Text),
    Index("ix_deviations_item", "item_id"),
)

deviation_evidence = Table(
    "deviation_evidence",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("deviation_id", ForeignKey("deviations.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),  # the file's base name
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("added_at", DateTime, nullable=False),
    Index("ix_deviation_evidence_deviation", "deviation_id"),
)
"""Evidence documents of a deviation request, stored in the database with their SHA-256."""

item_seals = Table(
    "item_seals",
    metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", String(64), nullable=False),
)
"""The digest of each item's state as last recorded in the audit log (a cache; the log is the truth)."""

report_snapshots = Table(
    "report_snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_id", ForeignKey("systems.id", ondelete="CASCADE"), nullable=False),
    Column("month", String(7), nullable=False),  # YYYY-MM
    Column("taken_at", DateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),  # of the content
    Column("content", LargeBinary, nullable=False),  # gzip-compressed JSON: the items as they stood
    UniqueConstraint("system_id", "month", name="uq_report_snapshots_system_month"),
)
"""Each month's POA&M frozen when its monthly package is written (`poam report diff`)."""

epss_scores = Table(
    "epss_scores",
    metadata,
    Column("cve", String(40), primary_key=True),
    Column("epss", Float, nullable=False),
    Column("percentile", Float, nullable=False),
)

ssvc_decisions = Table(
    "ssvc_decisions",
    metadata,
    Column("cve", String(40), primary_key=True),
    Column("exploitation", String(10)),  # none, poc, active
    Column("automatable", String(10)),  # yes, no
    Column("technical_impact", String(10)),  # partial, total
    Column("assessed_at", DateTime),
)

intel_documents = Table(
    "intel_documents",
    metadata,
    Column("source", String(40), primary_key=True),  # fedramp-rules
    Column("body", Text, nullable=False),  # the document as loaded (JSON)
)

intel_sources = Table(
    "intel_sources",
    metadata,
    Column("source", String(40), primary_key=True),  # kev, epss, ...
    Column("version", String(200)),
    Column("dated", DateTime),  # the date the data is of (EPSS score date, KEV release)
    Column("records", Integer, nullable=False),
    Column("filename", String(1000), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("loaded_at", DateTime, nullable=False),
)

kev_entries = Table(
    "kev_entries",
    metadata,
    Column("cve", String(40), primary_key=True),
    Column("vendor", String(200)),
    Column("product", String(200)),
    Column("name", Text),
    Column("date_added", Date),
    Column("due_date", Date, nullable=False),
    Column("ransomware", String(20)),
    Column("forensic_triage", Boolean),  # BOD 26-04: the KEV record asks for forensic triage
)

cci_map = Table(
    "cci_map",
    metadata,
    Column("cci", String(20), primary_key=True),
    Column("control", String(20), nullable=False),
    Column("revision", Integer, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("system_id", Integer),
    Column("action", String(60), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("entity_id", String(100)),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(16)),  # the HMAC key's id when the hash is keyed (None: plain SHA-256)
    Index("ix_audit_events_system", "system_id"),
)
