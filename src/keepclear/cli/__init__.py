"""The command line: flags become settings, settings go to a library call. Nothing else here."""
