"""Programme statistics: disclosure control first (DESIGN decision 14), then the figures.

May import: cases, reports, returnees, partners, messaging and the kernel (read only).
"""
