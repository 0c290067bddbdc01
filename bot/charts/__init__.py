"""Pictures where people would rather look than read: the data behind each chart (`data`) and
its PNG (`draw`, matplotlib's Agg backend, no display needed). Nothing here knows about Slack;
the handlers that answer `/iris drift` and `/iris monitor` attach the PNGs."""
