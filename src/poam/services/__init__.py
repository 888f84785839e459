"""Use cases shared by the command line and (later) the web app: each owns its transaction."""
