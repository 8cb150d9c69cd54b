-- PerfAnalysis store, PostgreSQL, migration 2. Never edit once released: add a new file.
--
-- The two directory tables, tenants and api_key_directory, had no row-level security
-- in migration 1, so a plain application role could read every tenant's key prefixes,
-- delete another tenant's directory rows or change another tenant's retention. They
-- now carry policies too: a plain role sees and changes only the row(s) of the tenant
-- in its transaction's `app.tenant` setting, and nothing without it.
--
-- What must work before a tenant is known (find a tenant by name, find which tenant
-- a key prefix belongs to, create a tenant, list tenants for an operator's retention
-- sweep) goes through the SECURITY DEFINER functions below, each answering one narrow
-- question. They run as the owner of the tables (the role that ran the migrations),
-- which is why these two tables ENABLE but do not FORCE row-level security: the
-- owner reads them unfiltered inside the functions. The application must therefore
-- connect as a role that does not own the tables (as it must anyway: see migration 1).

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_self ON tenants
    USING (id = (SELECT perfan_current_tenant()))
    WITH CHECK (id = (SELECT perfan_current_tenant()));

ALTER TABLE api_key_directory ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_key_directory
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

-- Creates a tenant; returns its id (a duplicate name raises unique_violation).
CREATE FUNCTION perfan_create_tenant(p_name text, p_created_ms bigint) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ INSERT INTO public.tenants (name, created_ms) VALUES (p_name, p_created_ms) RETURNING id $$;

-- The tenant of one name, if any.
CREATE FUNCTION perfan_tenant_by_name(p_name text)
    RETURNS TABLE (id bigint, name text, retention_days integer, created_ms bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT t.id, t.name, t.retention_days, t.created_ms FROM public.tenants t WHERE t.name = p_name $$;

-- Every tenant, for operators (listing, the retention sweep).
CREATE FUNCTION perfan_list_tenants()
    RETURNS TABLE (id bigint, name text, retention_days integer, created_ms bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT t.id, t.name, t.retention_days, t.created_ms FROM public.tenants t ORDER BY t.id $$;

-- Which tenant one key prefix belongs to (no secret: the hashes stay in api_keys).
CREATE FUNCTION perfan_key_tenant(p_prefix text) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT d.tenant_id FROM public.api_key_directory d WHERE d.prefix = p_prefix $$;
