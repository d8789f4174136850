"""The generic machinery under the generated ``fabric_chat`` package; it knows no schema."""

from .client import BaseClient as BaseClient
from .errors import FabricChatError as FabricChatError
from .logs import configure_from_environment
from .pagination import Page as Page
from .retry import HeartbeatPolicy as HeartbeatPolicy
from .retry import ReconnectPolicy as ReconnectPolicy
from .retry import RetryPolicy as RetryPolicy
from .state import ConnectionState as ConnectionState
from .subscriptions import MessageStream as MessageStream
from .subscriptions import Subscription as Subscription

__all__ = [
    "BaseClient",
    "ConnectionState",
    "FabricChatError",
    "HeartbeatPolicy",
    "MessageStream",
    "Page",
    "ReconnectPolicy",
    "RetryPolicy",
    "Subscription",
]

configure_from_environment()  # FABRIC_CHAT_LOG=debug|info
