@echo off
REM Start the analysis worker on Windows: the prefork pool cannot fork there, so --pool=solo.
cd /d "%~dp0"
celery -A app.celery_worker worker --loglevel=info --queues=ai_analysis --pool=solo %*
