# perpsource runtime image: the TypeScript sources run through tsx (no build step).
# Built by docker-compose.yml (service `perpsource`); by hand: docker build -t perpsource .
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so source edits reuse this layer. better-sqlite3 installs a prebuilt binary.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN mkdir -p var && chown node:node var

USER node
EXPOSE 8080
CMD ["node", "bin/perpsource.mjs", "start", "--host", "0.0.0.0"]
