"""One module per MiniGrid environment family."""
