"""Human-readable reports (HTML and PDF with charts): `render` and `charts` for any report,
`executive` for the monthly executive summary. Needs the `reports` extra."""
