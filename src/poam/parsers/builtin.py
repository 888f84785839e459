"""The built-in parsers, registered through the same hook as third-party ones."""

from __future__ import annotations

from poam.hookspecs import hookimpl
from poam.parsers.acunetix import Acunetix360Parser, AcunetixXmlParser
from poam.parsers.anchore import AnchoreEnterpriseParser
from poam.parsers.asff import AsffParser
from poam.parsers.bandit import BanditParser
from poam.parsers.base import Parser
from poam.parsers.burp import BurpXmlParser
from poam.parsers.checkmarx import CheckmarxXmlParser
from poam.parsers.checkmarx_one import CheckmarxOneParser
from poam.parsers.cyclonedx import CycloneDxParser
from poam.parsers.defender import DefenderCloudParser, DefenderEndpointParser
from poam.parsers.dependency_check import DependencyCheckJsonParser, DependencyCheckXmlParser
from poam.parsers.fortify import FortifyFprParser, FortifyFvdlParser
from poam.parsers.fortify_report import FortifyReportXmlParser
from poam.parsers.github import GithubAlertsParser
from poam.parsers.gitlab import GitlabParser
from poam.parsers.grype import GrypeParser
from poam.parsers.hdf import HdfParser
from poam.parsers.inspector2 import Inspector2Parser
from poam.parsers.nessus import NessusParser
from poam.parsers.nessus_csv import NessusCsvParser
from poam.parsers.nmap import NmapXmlParser
from poam.parsers.npm_audit import NpmAuditParser
from poam.parsers.nuclei import NucleiParser
from poam.parsers.openvas_csv import OpenvasCsvParser
from poam.parsers.openvas_xml import OpenvasXmlParser
from poam.parsers.openvex import OpenVexParser
from poam.parsers.oscal_ar import OscalAssessmentResultsParser
from poam.parsers.pip_audit import PipAuditParser
from poam.parsers.poam_csv import PoamCsvParser
from poam.parsers.prisma_cloud import PrismaCloudCsvParser, PrismaCloudParser
from poam.parsers.prowler import ProwlerParser
from poam.parsers.qualys_csv import QualysCsvParser
from poam.parsers.qualys_pci_csv import QualysPciCsvParser
from poam.parsers.qualys_vm_xml import QualysVmXmlParser
from poam.parsers.qualys_vmdr import QualysVmdrParser
from poam.parsers.qualys_was_xml import QualysWasXmlParser
from poam.parsers.rapid7_xml import Rapid7XmlParser
from poam.parsers.sarif import SarifParser
from poam.parsers.semgrep import SemgrepParser
from poam.parsers.snyk import SnykParser
from poam.parsers.sonarqube import SonarQubeParser
from poam.parsers.stig_ckl import StigCklParser
from poam.parsers.stig_cklb import StigCklbParser
from poam.parsers.tenable_csv import TenableCsvParser
from poam.parsers.tenable_vm_csv import TenableVmCsvParser
from poam.parsers.tenable_was import TenableWasCsvParser, TenableWasXmlParser
from poam.parsers.trivy import TrivyParser
from poam.parsers.wiz import WizCliParser, WizCsvParser
from poam.parsers.xccdf import XccdfParser
from poam.parsers.zap import ZapJsonParser, ZapXmlParser


@hookimpl
def poam_parsers() -> list[Parser]:
    """Every format poam reads out of the box, in the order `poam formats` lists them."""
    return [
        # network vulnerability scanners
        NessusParser(),
        NessusCsvParser(),
        TenableCsvParser(),
        TenableVmCsvParser(),
        OpenvasXmlParser(),
        OpenvasCsvParser(),
        QualysVmXmlParser(),
        QualysCsvParser(),
        QualysPciCsvParser(),
        QualysVmdrParser(),
        Rapid7XmlParser(),
        # web application scanners
        TenableWasXmlParser(),
        TenableWasCsvParser(),
        ZapXmlParser(),
        ZapJsonParser(),
        BurpXmlParser(),
        QualysWasXmlParser(),
        NucleiParser(),
        AcunetixXmlParser(),
        Acunetix360Parser(),
        # container and software composition scanners
        TrivyParser(),
        GrypeParser(),
        AnchoreEnterpriseParser(),
        SnykParser(),
        PrismaCloudParser(),
        PrismaCloudCsvParser(),
        CycloneDxParser(),
        OpenVexParser(),
        # code and dependency scanners
        SarifParser(),
        SemgrepParser(),
        BanditParser(),
        FortifyFprParser(),
        FortifyFvdlParser(),
        FortifyReportXmlParser(),
        CheckmarxXmlParser(),
        CheckmarxOneParser(),
        SonarQubeParser(),
        GitlabParser(),
        GithubAlertsParser(),
        NpmAuditParser(),
        PipAuditParser(),
        DependencyCheckXmlParser(),
        DependencyCheckJsonParser(),
        # cloud security
        AsffParser(),
        Inspector2Parser(),
        ProwlerParser(),
        DefenderCloudParser(),
        DefenderEndpointParser(),
        WizCsvParser(),
        WizCliParser(),
        # configuration compliance and assessments
        StigCklParser(),
        StigCklbParser(),
        XccdfParser(),
        HdfParser(),
        OscalAssessmentResultsParser(),
        # inventory and discovery
        NmapXmlParser(),
        # poam's own
        PoamCsvParser(),
    ]
