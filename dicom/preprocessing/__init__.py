"""The seed's four preprocessing methods, for folders and in-graph serving."""
