-- Seed list prices of embedding models (input tokens only), from the same public pricing pages
-- as the chat prices, beside them in providers::prices::SEED_PRICES (a test keeps the two in
-- step). A price an operator already entered for one of these models is kept.
INSERT INTO prices (kind, model, input_per_mtok, output_per_mtok, updated_at) VALUES
    ('openai', 'text-embedding-3-small', 20000, 0, 0),
    ('openai', 'text-embedding-3-large', 130000, 0, 0),
    ('openai', 'text-embedding-ada-002', 100000, 0, 0),
    ('azure', 'text-embedding-3-small', 20000, 0, 0),
    ('azure', 'text-embedding-3-large', 130000, 0, 0),
    ('azure', 'text-embedding-ada-002', 100000, 0, 0),
    ('google', 'gemini-embedding-001', 150000, 0, 0),
    ('cohere', 'embed-v4.0', 120000, 0, 0),
    ('cohere', 'embed-english-v3.0', 100000, 0, 0),
    ('cohere', 'embed-multilingual-v3.0', 100000, 0, 0),
    ('mistral', 'mistral-embed', 100000, 0, 0),
    ('mistral', 'codestral-embed', 150000, 0, 0)
ON CONFLICT (kind, model) DO NOTHING;
