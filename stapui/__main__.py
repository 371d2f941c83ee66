"""`python3 -m stapui` runs the workbench, like the `stapui` console script."""

from stapui.app import entry

entry()
