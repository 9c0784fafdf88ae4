"""support-bot: a small multi-tenant support chatbot.

Three servers share this package: the chat API (``support_bot.backend``), a playground page that
embeds the chat the way a client's website would (``support_bot.playground``), and the staff
backoffice (``support_bot.backoffice``). Answers come from ``support_bot.engine``: deterministic
skill routing and keyword retrieval over each client's files under ``clients/<domain>/``, so an
evaluation (``python -m support_bot.eval``) gives the same result on every machine.
"""

__version__ = "0.1.0"
