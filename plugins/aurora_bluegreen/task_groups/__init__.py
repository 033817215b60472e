"""Groups of tasks the DAGs share, wired from the operators and sensors."""
