"""3PL / store stock reports (CSV end-of-day counts): read by `connectors/files`; this package
declares their stream and landing checks."""
