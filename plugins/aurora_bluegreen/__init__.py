"""Blue/green deployments of Aurora MySQL, orchestrated by Airflow."""
