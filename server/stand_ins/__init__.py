"""Local stand-ins for external services, speaking their real wire formats.

They let the test suite and the ``demo`` command run the product with no outside accounts.
"""
