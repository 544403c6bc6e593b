"""The reference files (supplier terms, purchase orders, FX rates, buyer decisions): read by
`connectors/files`; this package declares their streams and landing checks. They land as the
`files` channel, which is not a configurable channel kind."""
