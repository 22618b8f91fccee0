"""The wallet's Lambda code: handlers over a pure domain and one repository per table."""
