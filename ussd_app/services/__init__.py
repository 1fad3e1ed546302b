"""The service layer: the only code that opens transactions and commits."""
