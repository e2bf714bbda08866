"""aiortc extensions: configuration, gathering, ICE restart and negotiation."""
