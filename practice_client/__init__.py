"""Practice Client: the doctor's side of an end-to-end encrypted health-record platform."""

__version__ = "0.1.0"
