"""Hand-written behaviour beside the generated modules; the generator never writes it.

The chat semantics no single operation of the spec expresses live here (``chat``): the join and
identity caches, the Conversation a send returns, and the chat view of a feed.
"""

from .chat import ChatEngine as ChatEngine
from .chat import ChatView as ChatView

__all__ = ["ChatEngine", "ChatView"]
