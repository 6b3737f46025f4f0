"""What a person looks at: PNG plots and a self-contained HTML report of a run."""

from unetzoo.report.run_report import write_run_report

__all__ = ["write_run_report"]
