"""Human review: queues of records in SQLite, a local web app to decide them, and the decisions fed back into
a recipe by the `review` step."""

from .policy import QueuePolicy
from .store import ReviewStore

__all__ = ["QueuePolicy", "ReviewStore"]
