"""The USSD menu: the compiled model of menus.yaml, its loader/validator, and the pure engine."""
