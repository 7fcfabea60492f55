"""The practice's running service, above intake and delivery: the agent that runs the
request sources, the export-folder watcher and the delivery pipeline together."""
