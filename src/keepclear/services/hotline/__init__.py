"""The hotline capability: threads, messages, standard phrases and live fan-out."""
