"""The USSD menu: the compiled model of menus.yaml, its loader (YAML with lines, schema, checks),
and the pure engine."""
