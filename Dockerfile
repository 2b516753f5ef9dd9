# Switchboard: runs the TypeScript sources directly with tsx (`npm start`), so there is no build step.
FROM node:20-bookworm-slim

WORKDIR /app

# Install runtime dependencies only (tsx is a runtime dependency, so `npm start` works without dev deps).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY migrations ./migrations
COPY src ./src

ENV NODE_ROLE=all PORT=3000 HOST=0.0.0.0
EXPOSE 3000

# No curl in the slim image: use Node's built-in fetch for the liveness probe.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

USER node

CMD ["npm", "start"]
