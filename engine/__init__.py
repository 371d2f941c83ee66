"""The stapui engine: SystemTap's five passes (parse, elaborate, translate, build, run)."""

__version__ = "0.1.0"
