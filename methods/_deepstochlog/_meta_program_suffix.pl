% The grounding program that deepstochlog 0.0.1 (tabled_tree_builder.py) appends to every
% program it grounds; its PyPI release does not ship it. Written for nesybench.
%
% The package prepends include_predicate/1 facts (the predicates whose proofs it wants: nn, p,
% t and the grammar's non-terminals) and the program, fills {query} in with the comma-separated
% queries, runs "swipl -q -f FILE -t main" and reads standard output: one line per (ground atom,
% way to prove it), [Head, [conj, Goal...]], where Head and each Goal are terms written as Python
% lists ([Functor, Arg...], ["list", Element...] for a Prolog list, ["_"] for a variable) and the
% goals are the included atoms of the clause body used. A tabled interpreter: each atom's
% proofs are found once, whatever the number of queries that need it.

:- table grounded/1.

kept(Goal) :- Goal =.. [Name|_], include_predicate(Name).

as_lists(T, ["_"]) :- var(T), !.
as_lists(T, ["list"|Items]) :- is_list(T), !, maplist(as_lists, T, Items).
as_lists(T, [Name|Args]) :- T =.. [F|Ts], atom_string(F, Name), maplist(as_lists, Ts, Args).

print_proof(Head, Body) :-
    comma_list(Body, Goals),
    include(kept, Goals, Shown),
    (   Shown == []
    ->  true
    ;   Conj =.. [conj|Shown],
        as_lists(Head, H), as_lists(Conj, C),
        write_term([H, C], [quoted(true)]), nl
    ).

% grounded(G): G holds; for a kept G, every clause body that proves it is printed once per
% answer (all of them, by failing after printing, then the answers themselves).
grounded(true) :- !.
grounded((A, B)) :- grounded(A), grounded(B).
grounded(G) :- kept(G), clause(G, Body), grounded(Body), print_proof(G, Body), fail.
grounded(G) :- kept(G), clause(G, Body), grounded(Body).
grounded(G) :- G \= (_, _), G \= true, \+ kept(G), call(G).

% a query with variables also gets a line from its general form to each answer
ground_query(Q) :-
    copy_term(Q, General),
    term_variables(Q, Vars),
    (   Vars == []
    ->  forall(grounded(Q), true)
    ;   forall(grounded(Q), print_proof(General, Q))
    ).

main :- maplist(ground_query, [{query}]).
