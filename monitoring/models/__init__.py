from selfheal.transitions import IllegalTransition

from .alerts import (
    Alert,
    AlertChannel,
    AlertDelivery,
    AlertSeverity,
    AlertStatus,
    ChannelKind,
    DeliveryStatus,
)
from .deployments import Deployment, DeploymentHealth, Rollback
from .errors import ErrorEvent, ErrorGroup, ErrorGroupStatus, EventSource
from .jobs import (
    HealingAction,
    HealingOutcome,
    Job,
    JobPing,
    JobProblem,
    JobRun,
    JobStatus,
    PingKind,
    RunStatus,
)

__all__ = [
    "Alert",
    "AlertChannel",
    "AlertDelivery",
    "AlertSeverity",
    "AlertStatus",
    "ChannelKind",
    "DeliveryStatus",
    "Deployment",
    "DeploymentHealth",
    "ErrorEvent",
    "ErrorGroup",
    "ErrorGroupStatus",
    "EventSource",
    "HealingAction",
    "HealingOutcome",
    "IllegalTransition",
    "Job",
    "JobPing",
    "JobProblem",
    "JobRun",
    "JobStatus",
    "PingKind",
    "RunStatus",
    "Rollback",
]
