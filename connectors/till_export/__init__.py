"""Till exports (CSV / Parquet receipt lines, columns mapped in oms.yaml): read by
`connectors/files`; this package declares their stream, mapping fields and landing checks."""
