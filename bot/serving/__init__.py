"""Model server: serves the `production` version over HTTP and records what it served.

Import its parts from their modules (`bot.serving.app`, `bot.serving.server`, ...): this package
imports nothing itself, so importing one table model does not start the whole server stack.
"""
