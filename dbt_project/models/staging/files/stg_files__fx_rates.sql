-- FX rates: value of one unit of `currency` in the base currency (amount_base = amount_local * rate).
with

source as (
    {{ latest_version(source('raw', 'files__fx_rates')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        cast(left(trim(_payload ->> 'date'), 10) as date) as rate_date,
        upper(trim(_payload ->> 'currency')) as currency,
        cast(nullif(trim(_payload ->> 'rate'), '') as decimal(18, 8)) as rate_to_base
    from source
)

select * from final
