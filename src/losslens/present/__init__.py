"""What the pages look like, shared by the HTML report (``render/``) and the dashboard (``ui/``).

Templates, static files (uPlot, the chart script, the styles), the words of the pages in
every language and the value formats live here, below both users: this package imports
neither ``losslens.render`` nor ``losslens.ui``.
"""
