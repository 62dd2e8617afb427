"""HTTP routes, one router per concern; handlers stay thin."""
