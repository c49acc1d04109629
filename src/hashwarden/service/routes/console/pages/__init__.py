"""The console's pages, one module an area of the navigation bar."""
