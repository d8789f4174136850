"""The hand-written engine behind the generated ``fabric_chat`` package; knows no chat schema."""
