"""The data service API: ingest landing files, record feedback, build the training set.

Plain functions over a `Database`; each manages its own transactions. The implementation lives
in `ingest`, `feedback` and `dataset`; this module is the stable import path for callers.
"""

from bot.data.dataset import dataset_summary, rows_since, training_set
from bot.data.feedback import FeedbackItem, record_feedback, record_feedback_many
from bot.data.ingest import ingest_landing
from bot.data.schemas import SOURCES, DatasetSummary, FeedbackResult, IngestReport, TrainingSet

__all__ = [
    "SOURCES",
    "DatasetSummary",
    "FeedbackItem",
    "FeedbackResult",
    "IngestReport",
    "TrainingSet",
    "dataset_summary",
    "ingest_landing",
    "record_feedback",
    "record_feedback_many",
    "rows_since",
    "training_set",
]
