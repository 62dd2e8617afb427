"""Model code (architectures, export) and, in `<name>/<version>/`, the SavedModels it writes."""
