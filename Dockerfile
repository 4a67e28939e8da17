# One image for the three services; docker-compose.yml picks the service with SERVICE.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md constraints.txt ./
COPY services ./services
RUN pip install --no-cache-dir -c constraints.txt . && useradd --system --uid 10001 app
USER app
ENV SERVICE=consent PORT=8000
EXPOSE 8000
# privacy-serve is uvicorn with the limits a public server needs (services/common/serving.py)
CMD ["sh", "-c", "exec privacy-serve ${SERVICE} --host 0.0.0.0 --port ${PORT}"]
