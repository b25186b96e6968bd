"""The shared record: staging entries with their events, the signer, witnessing."""
