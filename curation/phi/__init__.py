"""Detectors for protected health information, one kind per module, used by the `pii` step.

`phones` finds telephone numbers with Google's libphonenumber metadata (the `phonenumbers` package); the other
modules hold regular-expression sources that the step joins into one pattern, so a text is scanned once.
"""
