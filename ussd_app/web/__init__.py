"""HTTP entry points: thin views that parse a request, call one service, and render."""
