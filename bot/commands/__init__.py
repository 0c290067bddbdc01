"""The `/iris` command language: a parser, a registry of subcommands and the dispatcher."""
