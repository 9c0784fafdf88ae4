"""What the running servers report about themselves: errors to Sentry, chat turns and feedback to Langfuse.

Both are off unless configured from the environment, and neither may slow down or break a chat turn.
"""
