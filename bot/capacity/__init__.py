"""Capacity: the serving engines behind one interface, the latency SLO and its burn rates, scaling."""
