# The archiver image: the CLI, the nightly collect and the web UI.
FROM python:3.11-slim
# Pango/HarfBuzz for WeasyPrint (the exports' PDFs); fonts-noto-color-emoji so emoji in archived
# posts are drawn in those PDFs instead of as empty boxes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core \
    fonts-noto-color-emoji \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . /src
RUN pip install --no-cache-dir /src && useradd --create-home archiver
USER archiver
WORKDIR /data
ENV ARCHIVER_CONFIG=/config/archiver.toml
ENTRYPOINT ["archiver"]
CMD ["--help"]
